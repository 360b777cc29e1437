import { randomBytes } from 'node:crypto';

/** Request and session ids: prefix + 128 random bits, URL- and blob-name-safe. */
export function newRequestId(): string {
  return `r_${randomBytes(16).toString('base64url')}`;
}

export function newSessionId(): string {
  return `s_${randomBytes(16).toString('base64url')}`;
}

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
