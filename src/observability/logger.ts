import { Logger } from '@aws-lambda-powertools/logger';

/** The only module that imports the logging library: structured JSON lines, one per event. */
export type ServiceLogger = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;

export function createLogger(serviceName = 'image-resizer'): ServiceLogger {
  return new Logger({ serviceName });
}
