// Who is calling: the token's name, role and scope. `req.auth` carries it from
// the authentication middleware to the routes (and to the request log, which
// writes the name — never the token — as `token`).

export const ROLES = ['producer', 'worker', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** The token's name from the token file; several tokens may share it (rotation). */
  name: string;
  role: Role;
  /** producer: the owner services it may create, read and act on. */
  ownerServices?: readonly string[];
  /** worker: the model profiles it may claim (absent = any). */
  modelProfiles?: readonly string[];
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set when access control is on and the bearer token is valid. */
    auth?: Principal;
  }
}
