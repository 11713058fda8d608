import { AppError } from '../../common/src/index.ts';

/** Stable error codes of the ONVIF service (in GET /cameras `lastError`, metrics and events). */
export const onvifErrors = {
  /** No answer within the request timeout (a hung camera). */
  TIMEOUT: 'ONVIF_ERR_TIMEOUT',
  /** TCP connect failed (refused, no route). */
  CONNECT: 'ONVIF_ERR_CONNECT',
  /** The camera refused the credentials (SOAP ter:NotAuthorized, or HTTP digest 401 again). */
  AUTH: 'ONVIF_ERR_AUTH',
  /** The camera needs credentials and none are configured for it. */
  NO_CREDENTIALS: 'ONVIF_ERR_NO_CREDENTIALS',
  /** Any other SOAP fault (its subcode and reason are in the message). */
  FAULT: 'ONVIF_ERR_FAULT',
  /** An answer that is not the SOAP we asked for. */
  BAD_RESPONSE: 'ONVIF_ERR_BAD_RESPONSE',
  /** The camera has no media service or no profile of that name. */
  NO_MEDIA: 'ONVIF_ERR_NO_MEDIA',
  UNKNOWN_CAMERA: 'ONVIF_ERR_UNKNOWN_CAMERA',
  UNKNOWN_PROFILE: 'ONVIF_ERR_UNKNOWN_PROFILE',
  BAD_REQUEST: 'ONVIF_ERR_BAD_REQUEST',
  /** The camera is known but has never answered yet (no URI to hand out). */
  NOT_READY: 'ONVIF_ERR_NOT_READY',
  DISCOVERY: 'ONVIF_ERR_DISCOVERY',
  CREDENTIALS_FILE: 'ONVIF_ERR_CREDENTIALS_FILE',
} as const;

export type OnvifErrorCode = (typeof onvifErrors)[keyof typeof onvifErrors];

/** An error of one ONVIF operation against one camera. */
export class OnvifError extends AppError {
  readonly operation: string;
  constructor(code: OnvifErrorCode, operation: string, message: string, opts: { cause?: unknown } = {}) {
    super(code, message, opts);
    this.operation = operation;
  }
}
