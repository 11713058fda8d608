/** apps/common: what every app shares. See apps/common/README.md for the contract. */
export { createAppServer, type AppServer, type AppServerOptions, type HealthCheck, type HealthBody } from './app-server.ts';
export { runMain, type Running, type RunMainOptions } from './run-main.ts';
export { parseEnv, envVars, type Env } from './config.ts';
export { loadYamlConfig } from './yaml.ts';
export { AppError, sendError, errorToHttp, type ErrorBody } from './errors.ts';
export { dataDirCheck } from './data-dir.ts';
export { redactSecrets, redactUrl, redactingLog, registerSecret, registerSecretsIn, registerUrlSecrets, REDACTED } from './redact.ts';
export { loadCheckedYaml, parseCheckedYaml, closest, keyedUnion, type ConfigCheck, type SpecIssue } from './yaml-checked.ts';
export { deadline, type Deadline } from './deadline.ts';
export { installFailpoints, failpointsEnv, CRASH_AT_START_MARKER, type Failpoints, type FailpointsOptions } from './failpoints.ts';
export { createAppLogger, processLogger, setProcessLogger, lineLogger, levelOfLine, objectLogger, parseLogLevel, requestIdFor, serializeError, type Logger, type LineLevel } from './log.ts';
export { createSdNotify, type SdNotify, type SdNotifyOptions } from './sd-notify.ts';
export { removeSeriesOf } from './metric-series.ts';
