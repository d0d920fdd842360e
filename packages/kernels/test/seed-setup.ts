/** @file Vitest setup file (vitest.config.ts): every test's random inputs restart from its own name (seed.ts). */
import { beforeEach, expect } from 'vitest';
import { reseedFor, seedNote } from './seed.ts';

beforeEach((ctx) => {
  reseedFor(expect.getState().currentTestName ?? ctx.task.name);
  ctx.onTestFailed(() => console.error(`[seed] ${seedNote()}`));
});
