// Interim: replaced by the full classification (kept API).
export interface AwsFault {
  kind: 'permanent' | 'transient';
  throttled?: boolean;
  code: string;
  message: string;
  action?: string;
  role?: string;
  account?: string;
}

export function classifyAwsError(err: unknown): AwsFault {
  let e: unknown = err;
  for (let i = 0; i < 6 && e; i++) {
    const name = (e as { name?: string }).name ?? '';
    if (/Throttl|RequestLimitExceeded|TooManyRequests/.test(name))
      return { kind: 'transient', throttled: true, code: name, message: (e as Error).message };
    if (/AccessDenied|NotFound|ValidationError|InsufficientCapabilities|ExpiredToken/.test(name))
      return { kind: 'permanent', code: name, message: (e as Error).message };
    e = (e as { cause?: unknown }).cause;
  }
  return { kind: 'transient', code: 'Unknown', message: (err as Error)?.message ?? String(err) };
}

export function explainAwsFault(f: AwsFault): string {
  return `${f.code}: ${f.message}`;
}
