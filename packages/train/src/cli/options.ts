/**
 * @file Option parsing helpers shared by the subcommands: numbers and enums checked with clear messages, the
 * device option, and the run-directory options.
 */
import { Device } from '@reprise/core';
import { DEVICE_CHOICES, type DeviceChoice } from '@reprise/kernels';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type RunDirChoice, checkRunDir } from '../io/run-dir.ts';

/** Allowed values of a numeric option; bounds are inclusive unless marked open. */
interface Range {
  min: number;
  max?: number;
  openMin?: boolean;
  openMax?: boolean;
}

/** "≥ 0", "> 0", "in [0, 1)". */
function describeRange({ min, max, openMin, openMax }: Range): string {
  if (max === undefined) return `${openMin ? '>' : '≥'} ${min}`;
  return `in ${openMin ? '(' : '['}${min}, ${max}${openMax ? ')' : ']'}`;
}

/** A commander parser for a number in `range` (an integer when `integer`), failing with the option's name. */
function numberArg(name: string, integer: boolean, range: Range) {
  const { min, max = Number.POSITIVE_INFINITY, openMin, openMax } = range;
  return (value: string) => {
    const n = Number(value);
    const ok =
      value.trim() !== '' &&
      (integer ? Number.isInteger(n) : Number.isFinite(n)) &&
      (openMin ? n > min : n >= min) &&
      (openMax ? n < max : n <= max);
    if (!ok)
      throw new InvalidArgumentError(
        `${name} must be ${integer ? 'an integer' : 'a number'} ${describeRange(range)}, got '${value}'`,
      );
    return n;
  };
}

export const intArg = (name: string, min = 0) => numberArg(name, true, { min });
export const floatArg = (name: string, min = 0) => numberArg(name, false, { min });
/** A number > 0: learning rates and clipping norms, where 0 would mean no training at all. */
export const positiveArg = (name: string) => numberArg(name, false, { min: 0, openMin: true });
/** A fraction in [0, 1], or in [0, 1) with `openMax` (a dropout of 1 would drop everything). */
export const fractionArg = (name: string, openMax = false) =>
  numberArg(name, false, { min: 0, max: 1, openMax });

export const deviceOption = () =>
  new Option(
    '--device <device>',
    'where to run: auto picks a GPU, else a software WebGPU adapter; cpu works everywhere, slowly',
  )
    .choices(DEVICE_CHOICES as unknown as string[])
    .default(process.env.REPRISE_DEVICE ?? 'auto');

export async function openDevice(choice: string): Promise<Device> {
  const device = await Device.create({ device: choice as DeviceChoice });
  process.stderr.write(`device: ${device.describe()}\n`);
  return device;
}

/** --resume and --overwrite: the two ways on from an --out that already holds a run (io/run-dir.ts). */
export function addRunDirOptions(cmd: Command, resumeHelp: string): Command {
  return cmd
    .option('--resume', resumeHelp, false)
    .option(
      '--overwrite',
      'start a new run in an --out that holds one: the old run is moved aside to <out>.replaced-<time>, not deleted',
      false,
    );
}

/**
 * The choice the user made about --out, checked before the device, the data or the model are touched, so that a
 * refused --out costs nothing; `canResume` says whether --out holds a checkpoint to continue from.
 */
export function runDirChoice(
  a: { out: string; resume: boolean; overwrite: boolean },
  command: string,
  canResume: boolean,
): RunDirChoice {
  const choice = { resume: a.resume, overwrite: a.overwrite, command, canResume };
  checkRunDir(a.out, choice);
  return choice;
}
