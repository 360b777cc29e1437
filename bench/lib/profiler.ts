/**
 * A CPU profile of just the window that matters (the steady state under load, or one request),
 * through the inspector of this process: unlike `--cpu-prof`, start-up and module loading stay out.
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

/** Start sampling; the returned function stops and writes the profile (.cpuprofile JSON) to `file`. */
export async function startCpuProfile(intervalUs = 500): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  };
}
