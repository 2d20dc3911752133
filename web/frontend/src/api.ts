// The JSON API (see web/api.h): the protobuf JSON mapping of vernier.v1
// messages. int64 fields arrive as strings, enums as names, NaN as "NaN".

export interface ParameterSpec {
  name: string;
  type: string;
  min: number;
  max: number;
  scale: string;
  values: number[];
  categories: string[];
}

export interface StudySpec {
  name: string;
  description: string;
  objective: { metric: string; goal: string; target?: number; additionalMetrics: string[] };
  algorithm: { name: string; seed?: string; settings?: Record<string, unknown> };
  parameters: ParameterSpec[];
  trials: { max: number; parallel: number; maxFailed?: number; retries: number; maxRuntime?: string };
  worker: {
    kind: string; command: string[]; gpusPerTrial?: number;
    kubernetes?: { namespace?: string };
    pricing?: { gpuHour?: number; cpuHour?: number; memoryGbHour?: number; instanceHour?: number };
  };
  // Present when the study has a budget (max_cost > 0).
  budget?: { maxCost: number; currency: string };
  labels?: Record<string, string>;
}

// The study's budget, or undefined when it has none.
export function budgetOf(spec: StudySpec): { maxCost: number; currency: string } | undefined {
  const maxCost = Number(spec.budget?.maxCost ?? 0);
  return maxCost > 0 ? { maxCost, currency: spec.budget?.currency || 'USD' } : undefined;
}

// True when the study's trials cost money (its worker has prices) or it has
// a budget: then /cost has something to show.
export function hasCost(spec: StudySpec): boolean {
  const pricing = spec.worker.pricing ?? {};
  return budgetOf(spec) !== undefined || Object.values(pricing).some((price) => Number(price) > 0);
}

// GET studies/NAME/cost (web/study_cost.h).
export interface StudyCost {
  currency: string;
  maxCost?: number;
  hourlyRate: number;
  spent: number;
  committed: number;
  remaining?: number;
  burnPerHour: number;
  running: number;
  spentOverTime: { seconds: number[]; spent: number[] };
}

export interface Study {
  id: string;
  name: string;
  spec: StudySpec;
  yaml: string;
  state: string;
  endReason: string;
  stateMessage: string;
  createTime?: string;
  endTime?: string;
}

export interface TrialCounts {
  created: string; pending: string; running: string; succeeded: string;
  failed: string; stopped: string; infeasible: string;
}

export interface StudyOverview { study: Study; counts: TrialCounts; bestTrial?: Trial }

export interface Measurement { step: string; metrics: Record<string, number | string>; time?: string }

export interface Trial {
  id: string;
  studyId: string;
  number: number;
  parameters: Record<string, number | string>;
  state: string;
  stateMessage: string;
  objective?: number | string;
  finalMetrics: Record<string, number | string>;
  measurements: Measurement[];
  createTime?: string;
  startTime?: string;
  endTime?: string;
  exitCode?: number;
  exitSignal?: number;
  logPath: string;
  logTail: string;
  attempt: number;
  localWorker?: { pid: number };
  kubernetesJob?: string;
  clientId: string;
  cost?: number; // in the study's budget currency
  gpus?: string[];
}

export interface TrialList { trials: Trial[]; nextPageToken: string; totalSize: string }
export interface StudyList { studies: StudyOverview[]; nextPageToken: string; totalSize: string }

export interface ParameterColumn { name: string; values: (number | string)[]; categories: string[] }
export interface TrialColumns {
  trialId: string[];
  number: number[];
  state: string[];
  objective: (number | string)[];
  startSeconds: (number | string)[];
  endSeconds: (number | string)[];
  parameters: ParameterColumn[];
  gpus?: string[];  // per trial, comma-separated ('' where none)
}

export interface Curve { trialId: string; number: number; state: string; steps: string[]; values: (number | string)[] }
export interface MetricCurves { metric: string; curves: Curve[] }

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function check(response: Response): Promise<Response> {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body?.error?.message) message = String(body.error.message);
  } catch {
    // Not JSON: keep the status line.
  }
  throw new ApiError(response.status, message);
}

export async function get<T>(path: string, params?: URLSearchParams): Promise<T> {
  const query = params && [...params].length ? `?${params}` : '';
  const response = await check(await fetch(`/api/v1/${path}${query}`, { cache: 'no-store' }));
  return (await response.json()) as T;
}

export async function getText(path: string, params?: URLSearchParams): Promise<string> {
  const query = params && [...params].length ? `?${params}` : '';
  const response = await check(await fetch(`/api/v1/${path}${query}`, { cache: 'no-store' }));
  return response.text();
}

const TOKEN_KEY = 'vernier-admin-token';

export function adminToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setAdminToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

// An action: POST with the admin token (when the user gave one) and the
// header that tells the server the call comes from a page of its own.
export async function act<T>(path: string): Promise<T> {
  const headers: Record<string, string> = { 'X-Requested-By': 'vernier' };
  const token = adminToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await check(await fetch(`/api/v1/${path}`, { method: 'POST', headers }));
  return (await response.json()) as T;
}

export function num(value: number | string | undefined | null): number {
  if (value === undefined || value === null || value === '') return NaN;
  return Number(value);
}

// Server-sent events of one study (or all when `study` is empty): calls
// `changed` at most every `throttleMs` while events arrive, and after a
// reconnect. Returns a function that closes the stream.
export function subscribe(study: string, changed: () => void, throttleMs = 300): () => void {
  const url = study ? `/api/v1/events?study=${encodeURIComponent(study)}` : '/api/v1/events';
  const source = new EventSource(url);
  const indicator = document.getElementById('live');
  let timer: number | undefined;
  let pending = false;
  const fire = () => {
    if (timer !== undefined) {
      pending = true;
      return;
    }
    changed();
    timer = window.setTimeout(() => {
      timer = undefined;
      if (pending) {
        pending = false;
        fire();
      }
    }, throttleMs);
  };
  source.onopen = () => indicator?.classList.add('on');
  source.onerror = () => indicator?.classList.remove('on');
  source.onmessage = fire;
  source.addEventListener('resync', fire);
  return () => {
    source.close();
    if (timer !== undefined) window.clearTimeout(timer);
    indicator?.classList.remove('on');
  };
}
