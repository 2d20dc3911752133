// Parameter importance, computed in the browser from the plotted trials.
//
// For each parameter: the correlation ratio η² of the objective on the
// parameter's value — the share of the objective's variance that the means of
// the parameter's bins explain (between-bin variance / total variance). A
// numeric parameter is cut into up to 10 bins of equal counts (by rank, so
// log-scaled ranges work); a categorical one has a bin per category. This is
// fANOVA's first-order (main) effect measured on the data directly instead of
// on a random forest fitted to it: cheap at 10,000 trials, blind to
// interactions. Only SUCCEEDED trials with a finite objective count. The
// shares are then scaled to sum to 1 over the parameters.

export interface ImportanceInput {
  name: string;
  // One entry per trial: a number, a category, or null when missing.
  values: (number | string | null)[];
}

export interface Importance {
  name: string;
  share: number; // in [0, 1]; all parameters sum to 1 (or all are 0)
  eta2: number; // the raw correlation ratio
}

const kMaxBins = 10;

export function computeImportance(objective: number[], parameters: ImportanceInput[]): Importance[] {
  const raw = parameters.map((parameter) => ({ name: parameter.name, eta2: eta2(objective, parameter.values) }));
  const total = raw.reduce((sum, p) => sum + p.eta2, 0);
  return raw
    .map((p) => ({ ...p, share: total > 0 ? p.eta2 / total : 0 }))
    .sort((a, b) => b.share - a.share);
}

function eta2(objective: number[], values: (number | string | null)[]): number {
  const keys: (string | number)[] = [];
  const ys: number[] = [];
  for (let i = 0; i < objective.length; i++) {
    const y = objective[i];
    const x = values[i];
    if (!Number.isFinite(y) || x === null || (typeof x === 'number' && !Number.isFinite(x))) continue;
    keys.push(x);
    ys.push(y);
  }
  if (ys.length < 3) return 0;
  const bins = binOf(keys);
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  const total = ys.reduce((sum, y) => sum + (y - mean) ** 2, 0);
  if (total <= 0) return 0;
  const sums = new Map<number, { sum: number; count: number }>();
  ys.forEach((y, i) => {
    const entry = sums.get(bins[i]) ?? { sum: 0, count: 0 };
    entry.sum += y;
    entry.count += 1;
    sums.set(bins[i], entry);
  });
  let between = 0;
  for (const { sum, count } of sums.values()) between += count * (sum / count - mean) ** 2;
  return Math.min(1, between / total);
}

// The bin of each value: categories as such, numbers by rank into at most
// kMaxBins groups of (nearly) equal size; equal numbers share a bin.
function binOf(keys: (string | number)[]): number[] {
  if (keys.some((key) => typeof key === 'string')) {
    const ids = new Map<string, number>();
    return keys.map((key) => {
      const name = String(key);
      if (!ids.has(name)) ids.set(name, ids.size);
      return ids.get(name)!;
    });
  }
  const order = keys.map((key, i) => ({ key: key as number, i })).sort((a, b) => a.key - b.key);
  const bins = new Array<number>(keys.length);
  const perBin = Math.ceil(keys.length / kMaxBins);
  let bin = 0;
  order.forEach((entry, rank) => {
    if (rank > 0 && entry.key !== order[rank - 1].key && rank >= (bin + 1) * perBin) bin++;
    bins[entry.i] = bin;
  });
  return bins;
}
