import { SQSClient } from '@aws-sdk/client-sqs';
import {
  createSqsEmulator,
  type FaultConfig,
  type FaultPreset,
  type SqsEmulator,
} from '../../local/sqs';

export interface Harness {
  emulator: SqsEmulator;
  url: string;
  sqs: SQSClient;
  stop(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 and a free port, with a real SDK client pointed at it. */
export async function startEmulator(
  faults: FaultPreset | Partial<FaultConfig> = 'none',
  seed = 1234,
): Promise<Harness> {
  const emulator = createSqsEmulator({ seed, faults });
  const { url } = await emulator.listen(0);
  const sqs = new SQSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return {
    emulator,
    url,
    sqs,
    async stop() {
      sqs.destroy();
      await emulator.close();
    },
  };
}
