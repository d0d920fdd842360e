/**
 * @file Option parsing helpers shared by the subcommands: numbers and enums checked with clear messages, and
 * the device option.
 */
import { Device } from '@reprise/core';
import { DEVICE_CHOICES, type DeviceChoice } from '@reprise/kernels';
import { InvalidArgumentError, Option } from 'commander';

/** A commander parser for a number ≥ `min` (an integer when `integer`), failing with the option's name. */
function numberArg(name: string, min: number, integer: boolean) {
  return (value: string) => {
    const n = Number(value);
    if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < min)
      throw new InvalidArgumentError(
        `${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got '${value}'`,
      );
    return n;
  };
}

export const intArg = (name: string, min = 0) => numberArg(name, min, true);
export const floatArg = (name: string, min = 0) => numberArg(name, min, false);

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
