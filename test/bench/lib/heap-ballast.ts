/**
 * Live JS objects until this process's heap holds about `mib` MiB: a stand-in for the signaling
 * server's heap (Prisma, Fastify, socket.io, zod, the compiled sources), which V8 marks at every
 * mark-compact — and relaying starts one every ~100 ms through the Buffers it allocates.
 * Returns the heap used afterwards, in bytes.
 */
export function holdHeap(mib: number): number {
  const keep: unknown[] = [];
  const target = mib * 1024 * 1024;
  while (process.memoryUsage().heapUsed < target) {
    for (let i = 0; i < 8192; i++) keep.push({ a: i, b: `x${i}`, c: [i, i + 1], d: { e: i } });
  }
  (globalThis as { __ballast?: unknown }).__ballast = keep;
  return process.memoryUsage().heapUsed;
}
