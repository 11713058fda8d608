/** sd_notify for edgevisor (see README.md in this folder): the protocol, one socket per child, the sender. */
export { hasNotifyAddon, notifyAddon, type NotifyAddon } from './native.ts';
export { notifyEnv, parseNotify, STATUS_MAX, type NotifyMessage } from './protocol.ts';
export { openNotifyChannel, processGroupOf, sendNotify, type NotifyChannel, type NotifyChannelOptions } from './channel.ts';
