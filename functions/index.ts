// The Functions entry (package.json "main"): each import registers its triggers.
import './http.js';
import './jit-sweeper.js';
import './approval.js';
import './notifier.js';
