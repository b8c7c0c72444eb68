// The one error boundary: each kind of fault becomes one instruction for a person, escaped, never a stack.
import { describe, expect, it } from 'vitest';
import { explainError } from '../../src/slack/explain-error.js';
import { StoreUnavailableError } from '../../src/store/types.js';

/** An AWS SDK service error as the SDK builds it (name, $fault, $metadata), wrapped as the adapters do. */
function awsError(name: string, message: string, status: number): Error {
  const e = Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
  return new Error('executing change set arn:aws:cloudformation:us-east-1:333333333333:changeSet/x/y', { cause: e });
}

/** A WebClient platform error (code + data.error), wrapped as the Slack port does. */
function slackError(code: string): Error {
  const e = Object.assign(new Error(`An API error occurred: ${code}`), {
    code: 'slack_webapi_platform_error',
    data: { ok: false, error: code },
  });
  return new Error('posting a message in C1', { cause: e });
}

describe('explainError', () => {
  const rows: Array<[string, unknown, RegExp, boolean]> = [
    [
      'store down',
      new StoreUnavailableError('reading promotion p1', { cause: new Error('Connection is closed.') }),
      /state store \(Redis\).*Try again/,
      true,
    ],
    [
      'AWS access denied names the action',
      awsError(
        'AccessDenied',
        'User: arn:aws:sts::333333333333:assumed-role/promote-bot/x is not authorized to perform: cloudformation:ExecuteChangeSet',
        403,
      ),
      /ExecuteChangeSet/,
      false,
    ],
    ['AWS throttling is transient', awsError('Throttling', 'Rate exceeded', 400), /Try again in a minute/, true],
    ['Slack not_in_channel says how to fix it', slackError('not_in_channel'), /invite me/, false],
    ['unknown Slack code is named, escaped', slackError('weird_<!channel>'), /weird_&lt;!channel&gt;/, false],
    [
      'anything else points at the log, with no stack trace',
      new TypeError('x is undefined at foo.js:1'),
      /details are in promote-bot's log/,
      false,
    ],
  ];
  it.each(rows)('%s', (_name, err, pattern, transient) => {
    const out = explainError(err, 'planning <the> promotion');
    expect(out.text).toMatch(pattern);
    expect(out.transient).toBe(transient);
    expect(out.text).not.toMatch(/<(?!`)/); // nothing from input reaches Slack as markup
    expect(out.text).not.toMatch(/at \S+\.js:\d+/);
  });
});
