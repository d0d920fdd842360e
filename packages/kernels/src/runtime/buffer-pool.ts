/**
 * @file Reuses GPU buffers by size class. Classes step by quarter octaves (at most 25% slack) from 256 bytes.
 * Every buffer is STORAGE | COPY_SRC | COPY_DST, so any kernel output can be read back or overwritten.
 */
import type { MemoryStats } from '../types.ts';

const MIN_BYTES = 256;

/** Smallest class size ≥ bytes: 2^k · {1, 1.25, 1.5, 1.75}, rounded to 16 bytes. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const size = Math.ceil((octave * step) / 16) * 16;
    if (size >= bytes) return size;
  }
  return octave * 2;
}

export class BufferPool {
  readonly #device: GPUDevice;
  readonly #free = new Map<number, GPUBuffer[]>();
  #liveBytes = 0;
  #peakLiveBytes = 0;
  #liveBuffers = 0;
  #pooledBytes = 0;
  #pooledBuffers = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const reused = this.#free.get(size)?.pop();
    if (reused) {
      this.#pooledBytes -= size;
      this.#pooledBuffers--;
    }
    this.#liveBytes += size;
    this.#peakLiveBytes = Math.max(this.#peakLiveBytes, this.#liveBytes);
    this.#liveBuffers++;
    return (
      reused ??
      this.#device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      })
    );
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.#liveBytes -= size;
    this.#liveBuffers--;
    this.#pooledBytes += size;
    this.#pooledBuffers++;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, (list = []));
    list.push(buffer);
  }

  resetPeak(): void {
    this.#peakLiveBytes = this.#liveBytes;
  }

  /** Destroys every pooled (unused) buffer. */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#pooledBytes = 0;
    this.#pooledBuffers = 0;
  }

  stats(): MemoryStats {
    return {
      liveBytes: this.#liveBytes,
      peakLiveBytes: this.#peakLiveBytes,
      liveBuffers: this.#liveBuffers,
      pooledBytes: this.#pooledBytes,
      pooledBuffers: this.#pooledBuffers,
    };
  }
}
