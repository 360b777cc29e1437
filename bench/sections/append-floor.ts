/**
 * Section 2, floor: what Azurite alone can take, with no broker in the way. 32 writers, each with
 * its own append blob (one session each, as the throughput clients have), append one line the size
 * of a one-row read's audit record, conditioned on the append position as the audit log does, in a
 * closed loop through the same SDK the broker uses.
 *
 * It runs on an Azurite of its own: Azurite's CPU per request grows with the number of blobs it
 * holds (its metadata look-ups scan them all, about +0.3 ms per request per 1,000 blobs here), so a
 * fresh one measures the emulator at its best.
 *
 * A read's result waits for its `executed` record, and every session is its own blob (DESIGN.md),
 * so a closed-loop client with its own session costs at least one append block per read: this
 * shows what the emulator costs per append with the lightest client, next to the broker's runs.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type AppendBlobClient } from '@azure/storage-blob';
import { median, round } from '../lib/stats.js';
import { cpuDelta, sampleCpu } from '../lib/cpu.js';
import type { BenchContext } from '../lib/context.js';
import { startAzurite } from '../../src/local/azurite.js';

export interface AppendFloor {
  writers: number;
  /** bytes per append block: one line the size of a one-row read's `executed` record */
  lineBytes: number;
  appendsPerSecond: number;
  /** CPU µs per append: the SDK client (this process) and Azurite */
  cpuUsPerAppend: { client: number; azurite: number };
  /** cores × 1 s over client + Azurite CPU per append: appends/s on a machine doing nothing else */
  ceilingAppendsPerSecond: number;
  runs: number;
}

export async function measureAppendFloor(ctx: BenchContext, o: { seconds: number; writers?: number }): Promise<AppendFloor> {
  const writers = o.writers ?? 32;
  const az = await startAzurite();
  const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(`bench-floor-${randomBytes(4).toString('hex')}`);
  // About the size of a one-row read's `executed` record (columns, a one-row sample, digests, chain fields).
  const line = Buffer.from(`${JSON.stringify({ pad: 'x'.repeat(720) })}\n`);
  const azurite = [{ name: 'azurite', match: `--blobPort ${az.port}` }];
  const runs: { aps: number; client: number; azurite: number }[] = [];
  try {
    await container.create();
    for (let r = 0; r < ctx.runs; r++) {
      const blobs: AppendBlobClient[] = Array.from({ length: writers }, (_, i) => container.getAppendBlobClient(`run${r}/w${i}.jsonl`));
      await Promise.all(blobs.map((b) => b.create()));
      let measuring = false;
      let stop = false;
      let done = 0;
      const writer = async (blob: AppendBlobClient) => {
        let position = 0;
        while (!stop) {
          await blob.appendBlock(line, line.length, { conditions: { appendPosition: position } });
          position += line.length;
          if (measuring) done++;
        }
      };
      const loops = blobs.map(writer);
      await sleep(ctx.quick ? 300 : 1000);
      measuring = true;
      const client0 = process.cpuUsage();
      const cpu0 = sampleCpu(azurite);
      const t0 = performance.now();
      await sleep(o.seconds * 1000);
      const elapsedS = (performance.now() - t0) / 1000;
      measuring = false;
      const counted = done;
      const client = process.cpuUsage(client0);
      const azuriteUs = cpuDelta(cpu0, sampleCpu(azurite)).azurite ?? Number.NaN;
      stop = true;
      await Promise.all(loops);
      runs.push({ aps: counted / elapsedS, client: (client.user + client.system) / counted, azurite: azuriteUs / counted });
    }
  } finally {
    await az.stop();
  }
  const client = round(median(runs.map((x) => x.client)), 0);
  const azuriteCpu = round(median(runs.map((x) => x.azurite)), 0);
  return {
    writers,
    lineBytes: line.length,
    appendsPerSecond: round(median(runs.map((x) => x.aps)), 0),
    cpuUsPerAppend: { client, azurite: azuriteCpu },
    ceilingAppendsPerSecond: round((os.cpus().length * 1e6) / (client + azuriteCpu), 0),
    runs: runs.length,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
