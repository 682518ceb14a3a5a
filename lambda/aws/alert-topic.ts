/** The alarm topic as the scheduled verifier publishes its own message to it (sns:Publish only). */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { AlertPublisher } from "../verify/scheduled";

/** SNS takes a subject of fewer than 100 printable ASCII characters, without line breaks. */
const MAX_SUBJECT = 99;

export class SnsAlertPublisher implements AlertPublisher {
  constructor(
    private readonly sns: SNSClient,
    readonly topicArn: string,
  ) {}

  async publish(subject: string, message: string): Promise<void> {
    const plain = subject
      .replace(/[^\x20-\x7e]+/g, " ")
      .trim()
      .slice(0, MAX_SUBJECT);
    await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Subject: plain, Message: message }));
  }
}
