/**
 * A throwaway certificate authority and a server certificate it signs, built with node:crypto
 * alone (DER by hand), so the Key Vault stub can speak real TLS and the client can trust it by
 * passing the CA, without the openssl binary or NODE_TLS_REJECT_UNAUTHORIZED.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function positiveInteger(b: Buffer): Buffer {
  const first = b[0] ?? 0;
  return tlv(0x02, first & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/**
 * A random serial whose DER INTEGER is minimal: a leading 0x00 byte before one below 0x80 is not
 * valid DER, and OpenSSL then cannot parse the certificate (1 in 512 certificates failed this way).
 */
function serialNumber(): Buffer {
  const serial = randomBytes(8);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial;
}

function certificate(options: { subject: string; issuer: string; publicKey: KeyObject; signer: KeyObject; extensions: Buffer[] }): string {
  const now = Date.now();
  const tbs = seq(
    explicit(0, tlv(0x02, Buffer.from([2]))), // v3
    positiveInteger(serialNumber()),
    ECDSA_SHA256,
    name(options.issuer),
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 24 * 3600_000))),
    name(options.subject),
    options.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...options.extensions)),
  );
  const signature = sign('sha256', tbs, options.signer); // DER-encoded ECDSA signature
  const der = seq(tbs, ECDSA_SHA256, bits(signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
}

export interface TestCertificate {
  /** PEM of the CA to trust */
  ca: string;
  /** PEM of the server certificate */
  cert: string;
  /** PEM of the server's private key */
  key: string;
}

/** A CA and a server certificate for `hostname` (DNS name) and 127.0.0.1, valid for a day. */
export function createTestCertificate(hostname: string): TestCertificate {
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serverKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ca = certificate({
    subject: 'Query Broker test CA',
    issuer: 'Query Broker test CA',
    publicKey: caKeys.publicKey,
    signer: caKeys.privateKey,
    extensions: [
      extension('2.5.29.19', true, seq(bool(true))), // basicConstraints CA:TRUE
      extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1)), // keyUsage keyCertSign, cRLSign
    ],
  });
  const cert = certificate({
    subject: hostname,
    issuer: 'Query Broker test CA',
    publicKey: serverKeys.publicKey,
    signer: caKeys.privateKey,
    extensions: [
      extension('2.5.29.19', true, seq()), // basicConstraints CA:FALSE
      extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), // keyUsage digitalSignature
      extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage serverAuth
      extension('2.5.29.17', false, seq(tlv(0x82, Buffer.from(hostname, 'ascii')), tlv(0x87, Buffer.from([127, 0, 0, 1])))), // subjectAltName
    ],
  });
  return { ca, cert, key: serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
