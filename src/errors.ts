/**
 * The closed set of errors Runnel reports. Each code is a Kinesis error name (the `__type` the
 * service returns), bound once to its HTTP status, whether a client retries it, and whether it is
 * the server's fault. Errors cross threads as `{ code, message }` (classes do not survive
 * postMessage), and callers match on `name`/`code`, never on `instanceof`.
 * docs/errors.md documents the same table; a test keeps both in agreement.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly retryable: boolean;
  readonly fault: 'client' | 'server';
}

export const ERROR_CATALOG = {
  ResourceNotFoundException: { status: 400, retryable: false, fault: 'client' },
  ResourceInUseException: { status: 400, retryable: false, fault: 'client' },
  InvalidArgumentException: { status: 400, retryable: false, fault: 'client' },
  ValidationException: { status: 400, retryable: false, fault: 'client' },
  LimitExceededException: { status: 400, retryable: true, fault: 'client' },
  ProvisionedThroughputExceededException: { status: 400, retryable: true, fault: 'client' },
  ExpiredIteratorException: { status: 400, retryable: false, fault: 'client' },
  ExpiredNextTokenException: { status: 400, retryable: false, fault: 'client' },
  AccessDeniedException: { status: 403, retryable: false, fault: 'client' },
  DryRunOperationException: { status: 400, retryable: false, fault: 'client' },
  SerializationException: { status: 400, retryable: false, fault: 'client' },
  UnknownOperationException: { status: 400, retryable: false, fault: 'client' },
  InternalFailureException: { status: 500, retryable: true, fault: 'server' },
  ServiceUnavailableException: { status: 503, retryable: true, fault: 'server' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}

/** An error in Kinesis's vocabulary: `name` and `code` are the Kinesis error name. */
export class KinesisError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly $fault: 'client' | 'server';

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = code;
    this.code = code;
    const spec: ErrorSpec = ERROR_CATALOG[code];
    this.status = spec.status;
    this.retryable = spec.retryable;
    this.$fault = spec.fault;
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }
}

/** The shape an error takes between threads. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
}

/** Rebuilds an error that crossed a thread boundary; anything unknown is an internal failure. */
export function reviveError(value: unknown): KinesisError {
  if (value instanceof KinesisError) return value;
  const candidate = value as Partial<SerializedError> | undefined;
  if (candidate && isErrorCode(candidate.code) && typeof candidate.message === 'string') {
    return new KinesisError(candidate.code, candidate.message);
  }
  const message = value instanceof Error ? value.message : String(value);
  return new KinesisError('InternalFailureException', message);
}

/** Shorthands for the errors thrown most often. */
export const fail = {
  notFound: (message: string) => new KinesisError('ResourceNotFoundException', message),
  inUse: (message: string) => new KinesisError('ResourceInUseException', message),
  invalid: (message: string) => new KinesisError('InvalidArgumentException', message),
  limit: (message: string) => new KinesisError('LimitExceededException', message),
  internal: (message: string) => new KinesisError('InternalFailureException', message),
};

/**
 * How PutRecords reports a record that was not stored: throttling keeps its name (the SDKs
 * retry it), anything else is `InternalFailure`, as Kinesis words per-record failures.
 */
export function putRecordsEntryError(error: KinesisError): {
  ErrorCode: string;
  ErrorMessage: string;
} {
  return error.code === 'ProvisionedThroughputExceededException'
    ? { ErrorCode: error.code, ErrorMessage: error.message }
    : { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Service Failure' };
}
