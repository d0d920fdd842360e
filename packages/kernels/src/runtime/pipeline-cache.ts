/**
 * @file Compiles each (kernel, specialization) once. The key must capture everything the WGSL depends on.
 */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  /** Seconds spent creating pipelines, for reports on first-run compile cost. */
  compileSeconds = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  get size(): number {
    return this.#pipelines.size;
  }

  get(key: string, source: () => string): GPUComputePipeline {
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      const start = performance.now();
      const module = this.#device.createShaderModule({ code: source(), label: key });
      pipeline = this.#device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      this.compileSeconds += (performance.now() - start) / 1000;
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** Compiles ahead of time (in parallel where the driver allows), so a run's first step is not a compile. */
  async warm(entries: readonly { key: string; source: () => string }[]): Promise<void> {
    await Promise.all(
      entries
        .filter((e) => !this.#pipelines.has(e.key))
        .map(async (e) => {
          const module = this.#device.createShaderModule({ code: e.source(), label: e.key });
          const pipeline = await this.#device.createComputePipelineAsync({
            label: e.key,
            layout: 'auto',
            compute: { module, entryPoint: 'main' },
          });
          this.#pipelines.set(e.key, pipeline);
        }),
    );
  }
}
