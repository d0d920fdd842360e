/**
 * @file Optional per-kernel GPU timing through `timestamp-query` (REPRISE_PROFILE=1 where the adapter has it).
 * Profiling puts each dispatch in its own pass, so it slows the run: use it to compare kernels, not to time steps.
 */
const CAPACITY = 2048; // timestamps per batch: two per dispatch

export interface KernelTiming {
  kernel: string;
  count: number;
  totalMs: number;
}

export class TimestampProfiler {
  readonly #device: GPUDevice;
  readonly #querySet: GPUQuerySet;
  readonly #resolveBuffer: GPUBuffer;
  #labels: string[] = [];
  #readbacks: Promise<void>[] = [];
  readonly #totals = new Map<string, KernelTiming>();

  constructor(device: GPUDevice) {
    this.#device = device;
    this.#querySet = device.createQuerySet({ type: 'timestamp', count: CAPACITY });
    this.#resolveBuffer = device.createBuffer({
      size: CAPACITY * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  /** Max dispatches per batch so that timestamps never overflow the query set. */
  static readonly maxDispatches = CAPACITY / 2;

  nextWrites(label: string): GPUComputePassTimestampWrites {
    const index = this.#labels.length * 2;
    this.#labels.push(label);
    return { querySet: this.#querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
  }

  #pendingRead: GPUBuffer | null = null;

  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#labels.length * 2;
    if (n === 0) return;
    encoder.resolveQuerySet(this.#querySet, 0, n, this.#resolveBuffer, 0);
    const read = this.#device.createBuffer({
      size: n * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.copyBufferToBuffer(this.#resolveBuffer, 0, read, 0, n * 8);
    this.#pendingRead = read;
  }

  afterSubmit(): void {
    const read = this.#pendingRead;
    const labels = this.#labels;
    this.#pendingRead = null;
    this.#labels = [];
    if (!read) return;
    this.#readbacks.push(
      read.mapAsync(GPUMapMode.READ).then(() => {
        const stamps = new BigInt64Array(read.getMappedRange());
        labels.forEach((kernel, i) => {
          const ns = Number(stamps[2 * i + 1] - stamps[2 * i]);
          const entry = this.#totals.get(kernel) ?? { kernel, count: 0, totalMs: 0 };
          entry.count++;
          entry.totalMs += ns / 1e6;
          this.#totals.set(kernel, entry);
        });
        read.unmap();
        read.destroy();
      }),
    );
  }

  /** Totals per kernel since the last call, slowest first. */
  async report(): Promise<KernelTiming[]> {
    await Promise.all(this.#readbacks);
    this.#readbacks = [];
    const out = [...this.#totals.values()].sort((a, b) => b.totalMs - a.totalMs);
    this.#totals.clear();
    return out;
  }
}
