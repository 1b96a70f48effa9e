// One error type for the whole service. Every error leaving the HTTP layer is an
// RFC 9457 problem+json body with a stable machine-readable `code`.

export interface FieldError {
  path: string;
  message: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(status: number, code: string, detail: string, extra: { errors?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.status = status;
    this.code = code;
    this.errors = extra.errors;
    this.headers = extra.headers;
  }

  toProblem(instance?: string) {
    return {
      type: `https://ai-service.dev/problems/${this.code.replaceAll('_', '-')}`,
      title: TITLES[this.status] ?? 'Error',
      status: this.status,
      code: this.code,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) => new HttpError(400, 'validation_failed', detail, { errors });
export const notFound = (detail = 'job not found') => new HttpError(404, 'not_found', detail);
export const conflict = (code: string, detail: string) => new HttpError(409, code, detail);
export const tooLarge = (detail: string) => new HttpError(413, 'too_large', detail);
export const unavailable = (code: string, detail: string) => new HttpError(503, code, detail);
