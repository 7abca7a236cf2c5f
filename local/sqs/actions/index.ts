import { GetQueueAttributes, SetQueueAttributes } from './attributes';
import type { Action } from './context';
import {
  CancelMessageMoveTask,
  ListDeadLetterSourceQueues,
  ListMessageMoveTasks,
  StartMessageMoveTask,
} from './move-tasks';
import { AddPermission, RemovePermission } from './permissions';
import { CreateQueue, DeleteQueue, GetQueueUrl, ListQueues, PurgeQueue } from './queues';
import { ReceiveMessage } from './receive';
import { SendMessage, SendMessageBatch } from './send';
import { ListQueueTags, TagQueue, UntagQueue } from './tags';
import {
  ChangeMessageVisibility,
  ChangeMessageVisibilityBatch,
  DeleteMessage,
  DeleteMessageBatch,
} from './visibility';

export type { Action, Context } from './context';
export { Params, type Protocol } from './params';

/**
 * Every SQS action by its wire name. One file per family of operations (dynalite's
 * action-per-file layout, grouped), each holding its actions and the validation they need.
 */
export const ACTIONS: Readonly<Record<string, Action>> = Object.freeze({
  CreateQueue,
  GetQueueUrl,
  ListQueues,
  DeleteQueue,
  PurgeQueue,
  GetQueueAttributes,
  SetQueueAttributes,
  SendMessage,
  SendMessageBatch,
  ReceiveMessage,
  DeleteMessage,
  DeleteMessageBatch,
  ChangeMessageVisibility,
  ChangeMessageVisibilityBatch,
  TagQueue,
  UntagQueue,
  ListQueueTags,
  ListDeadLetterSourceQueues,
  StartMessageMoveTask,
  ListMessageMoveTasks,
  CancelMessageMoveTask,
  AddPermission,
  RemovePermission,
});
