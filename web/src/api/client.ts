// The typed API client: paths, bodies and answers come from the gateway's /openapi.json
// (web/openapi.json, kept equal to it by a test), so the UI cannot call what the API does not have.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { authHeaders, onUnauthenticated } from "../auth";

export type Schemas = components["schemas"];
export type Agent = Schemas["AgentPublic"];
export type Spec = Schemas["SpecPublic"];
export type SpecBlocks = Schemas["SpecBlocks"];
export type Compilation = Schemas["CompilationPublic"];
export type TestCase = Schemas["TestCasePublic"];
export type TestCaseSpec = Schemas["TestCaseSpec"];
export type TestRun = Schemas["TestRunPublic"];
export type TestRunSummary = Schemas["TestRunSummaryPublic"];
export type TestResult = Schemas["TestResultPublic"];
export type Version = Schemas["VersionSummaryPublic"];
export type ChannelMove = Schemas["ChannelMovePublic"];
export type Warning = Schemas["WarningPublic"];

const session: Middleware = {
  onRequest({ request }) {
    for (const [name, value] of Object.entries(authHeaders(request.method))) {
      request.headers.set(name, value);
    }
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) onUnauthenticated();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(session);

/** The API's error shape ({"error": {"code", "message", ...}}), in words a person can act on. */
export interface Problem {
  status: number;
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export function problemOf(error: unknown, response: Response): Problem {
  const body = (error ?? {}) as { error?: { code?: string; message?: string } & Record<string, unknown> };
  const detail = body.error;
  if (detail && typeof detail.message === "string") {
    const { code, message, ...details } = detail;
    return { status: response.status, code: code ?? "error", message, details };
  }
  return {
    status: response.status,
    code: "http_error",
    message: `the server answered ${response.status} ${response.statusText}`.trim(),
    details: {},
  };
}

/** The data of an openapi-fetch answer, or a thrown Problem. */
export async function must<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) throw problemOf(error, response);
  return data;
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "code" in value && "message" in value;
}

export function describe(error: unknown): string {
  if (isProblem(error)) return error.message;
  if (error instanceof TypeError) return "the gateway could not be reached; check that it is running";
  return String(error);
}
