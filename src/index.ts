/**
 * The package's entry (`import { Client, defineJobs } from 'wizard'`): the client and the typed
 * handlers kit. It loads no server code (Express, Piscina, Swagger UI, the store): the CLI is
 * bin/wizard, the in-process test store is 'wizard/testing'.
 */
export { Client } from './sdk/client';
export type {
  AddOptions,
  BulkSubmitted,
  ClientOptions,
  DepPolicy,
  EventsOptions,
  FlowCreated,
  FlowNode,
  FlowNodeOf,
  FlowState,
  FlowView,
  JobEvent,
  JobRecord,
  JobState,
  NewFlow,
  Submitted,
} from './sdk/client';
export { JobFailed, NotFound, Unavailable, ValidationError, WaitTimeout, WizardApiError } from './sdk/errors';
export type { ApiErrorDetail } from './sdk/errors';
export { defineJobs } from './sdk/jobs';
export type {
  BuiltinJobs,
  JobDefinition,
  JobId,
  JobTable,
  JobTypeName,
  JobTypesOf,
  KnownJobs,
  ParamsFor,
  ResultFor,
} from './sdk/jobs';
export type { UserContext } from './core/handlers';
