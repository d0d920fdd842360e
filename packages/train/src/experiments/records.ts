/**
 * @file Which records of a run log belong to a config: the runs it plans (each with its settings and their
 * hash), and per planned run the record made with exactly those settings. Records of the same run made with
 * other settings are stale: a rerun refuses to mix them in (or reruns them), and the report leaves them out
 * and counts them. Records written before settings were hashed (the log published with the first results)
 * carry no hash: the report accepts them, matched by task, variant and seed as they always were, and says how
 * many it did; the runner never reuses them, since nothing says what they were run with.
 */
import { type ExperimentConfig, type RunSpec, expandRuns } from './config.ts';
import type { ExperimentRecord, PretrainRecord, RunRecord } from './runner.ts';
import { type RunSettings, backboneKinds, backboneSettings, runSettings, settingsHash } from './settings.ts';

export interface PlannedRun extends RunSpec {
  settings: RunSettings;
  settingsHash: string;
}

export function planRuns(config: ExperimentConfig): PlannedRun[] {
  return expandRuns(config).map((run) => {
    const settings = runSettings(config, run);
    return { ...run, settings, settingsHash: settingsHash(settings) };
  });
}

export interface LogSelection {
  planned: PlannedRun[];
  /** The record of each planned run that has one made with its settings (log order). */
  runs: RunRecord[];
  /** The pretraining record of each backbone the config uses, when the log has one with its settings. */
  pretrains: PretrainRecord[];
  /** Accepted records without a settings hash (only with `acceptLegacy`). */
  legacy: number;
  /** Records of planned runs or backbones made with other settings (or superseded): left out. */
  stale: number;
  /** Run records of runs the config does not plan: left out. */
  unplanned: number;
  /** Planned runs without a current record but with a stale one: what changed since. */
  changed: { run: PlannedRun; record: RunRecord }[];
}

/** The last record per key that `accept` takes; every other record with that key is counted as stale. */
function pick<T extends { settingsHash?: string }>(
  records: T[],
  hash: string,
  acceptLegacy: boolean,
): { chosen: T | undefined; legacy: boolean } {
  const current = records.filter((r) => r.settingsHash === hash).at(-1);
  if (current) return { chosen: current, legacy: false };
  // A legacy record stands only while the log holds no hashed record of the same run: once the run was rerun
  // with recorded settings, the record without them is an older version of it.
  if (acceptLegacy && records.every((r) => r.settingsHash === undefined))
    return { chosen: records.at(-1), legacy: records.length > 0 };
  return { chosen: undefined, legacy: false };
}

export function selectRecords(
  config: ExperimentConfig,
  records: ExperimentRecord[],
  o: { acceptLegacy: boolean },
): LogSelection {
  const planned = planRuns(config);
  const byId = new Map<string, RunRecord[]>();
  let unplanned = 0;
  const plannedIds = new Set(planned.map((r) => r.id));
  for (const r of records) {
    if (r.kind !== 'run') continue;
    if (!plannedIds.has(r.id)) unplanned++;
    else byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  }
  const out: LogSelection = {
    planned,
    runs: [],
    pretrains: [],
    legacy: 0,
    stale: 0,
    unplanned,
    changed: [],
  };
  for (const run of planned) {
    const own = byId.get(run.id) ?? [];
    const { chosen, legacy } = pick(own, run.settingsHash, o.acceptLegacy);
    if (chosen) out.runs.push(chosen);
    else if (own.length) out.changed.push({ run, record: own.at(-1)! });
    if (legacy) out.legacy++;
    out.stale += own.length - (chosen ? 1 : 0);
  }
  const order = new Map(records.map((r, i) => [r, i]));
  out.runs.sort((a, b) => order.get(a)! - order.get(b)!);
  // Groups with a decoder of their own: each is a planned backbone too, listed after the config's.
  const groupDecoders = new Set(
    planned.filter((r) => r.decoder).map((r) => settingsHash(r.settings.backbone)),
  );
  for (const kind of backboneKinds(config)) {
    const own = records.filter(
      (r): r is PretrainRecord =>
        r.kind === 'pretrain' && r.backbone === kind && !groupDecoders.has(r.settingsHash ?? ''),
    );
    const { chosen, legacy } = pick(own, settingsHash(backboneSettings(config, kind)), o.acceptLegacy);
    if (chosen) out.pretrains.push(chosen);
    if (legacy) out.legacy++;
    out.stale += own.length - (chosen ? 1 : 0);
  }
  for (const hash of groupDecoders) {
    const chosen = records
      .filter((r): r is PretrainRecord => r.kind === 'pretrain' && r.settingsHash === hash)
      .at(-1);
    if (chosen) out.pretrains.push(chosen);
  }
  return out;
}
