/**
 * @file The textures that texture operands are copied into (kernels/kernel.ts: TextureOperand), one per binding
 * slot and size, kept for reuse: a training step binds the same few shapes again and again. Reuse within a batch is
 * safe because every copy and dispatch runs in encoding order.
 */
import type { TextureOperand } from '../kernels/kernel.ts';

interface Entry {
  texture: GPUTexture;
  view: GPUTextureView;
}

export class TextureCache {
  readonly #device: GPUDevice;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** The texture for binding `slot` of this size (two operands of one dispatch never share one). */
  get(slot: number, { width, height }: TextureOperand): Entry {
    const key = `${slot}:${width}x${height}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      const texture = this.#device.createTexture({
        size: [width, height],
        format: 'rgba32float',
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
        label: `operand ${key}`,
      });
      entry = { texture, view: texture.createView() };
      this.#entries.set(key, entry);
      this.#bytes += width * height * 16;
    }
    return entry;
  }

  /** Bytes held by the cached textures. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Destroys every cached texture (call after the work that binds them has been submitted). */
  clear(): void {
    for (const { texture } of this.#entries.values()) texture.destroy();
    this.#entries.clear();
    this.#bytes = 0;
  }
}
