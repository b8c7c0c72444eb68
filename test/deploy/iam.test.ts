// The IAM templates in deploy/iam/ against the code: every AWS call in src/ (wherever it lives) is allowed by
// them, and they allow no CloudFormation or S3 action the code does not use. The calls are found by reading
// the source: `new XxxCommand(` for commands imported from an @aws-sdk/client-* package, and the STS
// AssumeRole that @aws-sdk/credential-providers' fromTemporaryCredentials makes.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** IAM action per SDK command where it is not `<service>:<Operation>`; null: the call needs no permission. */
const ACTION_OF_COMMAND: Record<string, string | null> = {
  // STS GetCallerIdentity needs no permission (STS API reference, GetCallerIdentity).
  'sts:GetCallerIdentity': null,
  // S3 operations authorised by another action (Amazon S3 API reference, each operation's "Permissions").
  's3:HeadObject': 's3:GetObject',
  's3:HeadBucket': 's3:ListBucket',
  's3:ListObjectsV2': 's3:ListBucket',
  's3:DeleteObjects': 's3:DeleteObject',
};

/** What a source stage is read for (readSourceBuild): the stack, its original template, the template summary. */
const SOURCE_READS = [
  'cloudformation:DescribeStacks',
  'cloudformation:GetTemplate',
  'cloudformation:GetTemplateSummary',
];

interface Use {
  action: string;
  where: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every IAM action the code in src/ needs, with the files that need it. */
function actionsUsedBySrc(): Map<string, Use> {
  const used = new Map<string, Use>();
  const need = (action: string, where: string) => {
    const u = used.get(action) ?? { action, where: [] };
    if (!u.where.includes(where)) u.where.push(where);
    used.set(action, u);
  };
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const where = relative(ROOT, file);
    // local name → service:Operation
    const commands = new Map<string, string>();
    const namespaces = new Map<string, string>();
    for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s*from\s*['"]@aws-sdk\/client-([\w-]+)['"]/g)) {
      if (m[1]) continue; // import type { … }
      const service = m[3]!;
      for (const spec of m[2]!.split(',')) {
        const s = spec.trim();
        if (!s || s.startsWith('type ')) continue;
        const [imported, local] = s.split(/\s+as\s+/).map((x) => x.trim());
        if (imported?.endsWith('Command') && imported !== 'Command') {
          commands.set(local ?? imported, `${service}:${imported.slice(0, -'Command'.length)}`);
        }
      }
    }
    for (const m of text.matchAll(/import\s+\*\s+as\s+(\w+)\s+from\s*['"]@aws-sdk\/client-([\w-]+)['"]/g)) {
      namespaces.set(m[1]!, m[2]!);
    }
    for (const m of text.matchAll(/new\s+([\w$]+)(?:\.([\w$]+))?\s*\(/g)) {
      const [, first, second] = m;
      let op: string | undefined;
      if (second && namespaces.has(first!) && second.endsWith('Command')) {
        op = `${namespaces.get(first!)}:${second.slice(0, -'Command'.length)}`;
      } else if (!second) {
        op = commands.get(first!);
      }
      if (!op) continue;
      const action = op in ACTION_OF_COMMAND ? ACTION_OF_COMMAND[op] : op;
      if (action) need(action, where);
    }
    // Role credentials: fromTemporaryCredentials calls STS AssumeRole; SourceIdentity and Tags in its
    // parameters need sts:SetSourceIdentity and sts:TagSession as well.
    if (/from\s*['"]@aws-sdk\/credential-providers['"]/.test(text) && /fromTemporaryCredentials\s*\(/.test(text)) {
      need('sts:AssumeRole', where);
      if (/\bSourceIdentity\s*:/.test(text)) need('sts:SetSourceIdentity', where);
      if (/\bTags\s*:/.test(text)) need('sts:TagSession', where);
    }
    // CloudFormation reads a TemplateURL with the caller's credentials: the caller needs s3:GetObject on it.
    if (/\bTemplateURL\b/.test(text) && /new\s+\w*(CreateChangeSet|GetTemplateSummary)/.test(text)) {
      need('s3:GetObject', `${where} (CloudFormation reads the TemplateURL as the caller)`);
    }
  }
  return used;
}

// ---- the templates ----

type Json = unknown;

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: Json;
  Principal?: Json;
  Condition?: Record<string, Record<string, Json>>;
}

interface Template {
  Parameters: Record<string, Json>;
  Conditions?: Record<string, Json>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, Json> }>;
}

function loadTemplate(name: string): Template {
  const text = readFileSync(join(ROOT, 'deploy/iam', name), 'utf8');
  const doc = parseDocument(text);
  // Short-form tags (!Sub, !Ref) would be unresolved tags here: the templates use the long form.
  expect(doc.errors.map(String), `${name} parses as plain YAML`).toEqual([]);
  expect(doc.warnings.map(String), `${name} has no unresolved tags`).toEqual([]);
  return doc.toJS() as Template;
}

/** Statements of a list, with both branches of an Fn::If (an AWS::NoValue branch is no statement). */
function statementsOf(list: Json[]): Statement[] {
  return list.flatMap((s) => {
    const branches = (s as { 'Fn::If'?: Json[] })['Fn::If'];
    if (!branches) return [s as Statement];
    return branches.slice(1).filter((b) => (b as { Ref?: string }).Ref !== 'AWS::NoValue') as Statement[];
  });
}

interface PolicyStatement extends Statement {
  resource: string; // logical ID of the resource carrying the policy
  condition?: string; // that resource's template condition
}

/** Identity-policy statements (inline role policies and AWS::IAM::Policy resources), not trust or bucket policies. */
function identityStatements(t: Template): PolicyStatement[] {
  const out: PolicyStatement[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const docs: Json[] = [];
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of (r.Properties.Policies as Array<{ PolicyDocument: Json }>) ?? []) docs.push(p.PolicyDocument);
    }
    if (['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::RolePolicy'].includes(r.Type)) {
      docs.push(r.Properties.PolicyDocument);
    }
    for (const d of docs) {
      for (const s of statementsOf((d as { Statement: Json[] }).Statement)) {
        out.push({ ...s, resource: id, condition: r.Condition });
      }
    }
  }
  return out;
}

function trustStatements(t: Template): Statement[] {
  const role = Object.values(t.Resources).find((r) => r.Type === 'AWS::IAM::Role')!;
  return statementsOf((role.Properties.AssumeRolePolicyDocument as { Statement: Json[] }).Statement);
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const allows = (statements: Statement[]) =>
  new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => actionsOf(s)));
const isRead = (action: string) => /^[a-z0-9-]+:(Describe|Get|List)/.test(action);

/** Whether a template condition can only be true for a target stage (IsTarget, or an Fn::And including it). */
function targetOnly(t: Template, condition: string | undefined): boolean {
  if (!condition) return false;
  if (condition === 'IsTarget') return true;
  const def = t.Conditions?.[condition] as { 'Fn::And'?: Array<{ Condition?: string }> } | undefined;
  return !!def?.['Fn::And']?.some((c) => c.Condition && targetOnly(t, c.Condition));
}

const used = actionsUsedBySrc();
const botRole = loadTemplate('bot-role.yaml');
const stageRole = loadTemplate('stage-role.yaml');
const stageAllows = allows(identityStatements(stageRole));
const botAllows = allows(identityStatements(botRole));
const stageTrust = trustStatements(stageRole);

const usedOf = (prefix: string) => [...used.values()].filter((u) => u.action.startsWith(prefix));
const describeUse = (u: Use) => `${u.action} (used in ${u.where.join(', ')})`;

describe('the scan of src/', () => {
  it('finds the calls the bot is known to make, so an empty scan cannot pass', () => {
    // One call of each kind the scan must recognise: a CloudFormation command, an S3 command and the STS
    // AssumeRole made through credential-providers.
    expect([...used.keys()]).toEqual(
      expect.arrayContaining(['cloudformation:ExecuteChangeSet', 's3:PutObject', 'sts:AssumeRole']),
    );
  });
});

describe('deploy/iam allows every AWS call the code makes', () => {
  it('the stage role allows every CloudFormation and S3 action (a target stage has them all)', () => {
    const missing = [...usedOf('cloudformation:'), ...usedOf('s3:')].filter((u) => !stageAllows.has(u.action));
    expect(missing.map(describeUse)).toEqual([]);
  });

  it("the bot role's own policy allows every STS action the code needs", () => {
    const missing = usedOf('sts:').filter((u) => !botAllows.has(u.action));
    expect(missing.map(describeUse)).toEqual([]);
  });

  it("the stage role's trust policy lets the bot role take those STS actions", () => {
    const trusted = stageTrust.filter(
      (s) => s.Effect === 'Allow' && (s.Principal as { AWS?: { Ref?: string } })?.AWS?.Ref === 'BotRoleArn',
    );
    const missing = usedOf('sts:').filter((u) => !allows(trusted).has(u.action));
    expect(missing.map(describeUse)).toEqual([]);
  });

  it('no call of another AWS service goes unchecked', () => {
    const other = [...used.values()].filter((u) => !/^(cloudformation|s3|sts):/.test(u.action));
    expect(other.map(describeUse), 'add its permissions to deploy/iam and to this test').toEqual([]);
  });
});

describe('deploy/iam allows nothing the code does not use', () => {
  it('no CloudFormation or S3 action beyond those the code sends', () => {
    const granted = [...stageAllows, ...botAllows].filter((a) => /^(cloudformation|s3):/.test(a));
    expect(granted.filter((a) => !used.has(a))).toEqual([]);
  });

  it('no wildcard actions', () => {
    const all = [...identityStatements(botRole), ...identityStatements(stageRole), ...stageTrust].filter(
      (s) => s.Effect === 'Allow',
    );
    expect(all.flatMap(actionsOf).filter((a) => a.includes('*'))).toEqual([]);
  });

  it('the bot role itself may only assume roles: it has no CloudFormation or S3 permission', () => {
    expect([...botAllows].filter((a) => !a.startsWith('sts:'))).toEqual([]);
  });
});

describe('a source stage reads, a target stage changes', () => {
  const statements = identityStatements(stageRole);
  const sourceAllows = allows(statements.filter((s) => !targetOnly(stageRole, s.condition)));

  it('a source stage is allowed exactly what the code reads from a source stack', () => {
    for (const action of SOURCE_READS) expect(used.has(action), `${action} is still used`).toBe(true);
    expect([...sourceAllows].filter((a) => !a.startsWith('sts:')).sort()).toEqual([...SOURCE_READS].sort());
  });

  it('every action that changes something is granted only when StageKind is target', () => {
    const writes = statements.filter((s) => actionsOf(s).some((a) => !isRead(a)));
    expect(writes.length).toBeGreaterThan(0);
    for (const s of writes) expect(targetOnly(stageRole, s.condition), `${s.resource}/${s.Sid}`).toBe(true);
  });
});

describe('stage role scope', () => {
  const statements = identityStatements(stageRole).filter((s) => s.Effect === 'Allow');

  it('CloudFormation actions apply to the configured stack names only (GetTemplateSummary of a submitted template excepted)', () => {
    const cfn = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('cloudformation:')));
    expect(cfn.length).toBeGreaterThan(0);
    for (const s of cfn) {
      const resource = JSON.stringify(s.Resource);
      if (resource === '"*"') {
        // A rollback summarises its TemplateBody/TemplateURL: the request names no stack.
        expect(actionsOf(s), s.Sid).toEqual(['cloudformation:GetTemplateSummary']);
      } else {
        expect(resource, s.Sid).toContain('arn:aws:cloudformation:');
        // Nested stacks are named <parent>-<logical ID>-<suffix>: only change set actions reach them.
        const nested = s.Sid === 'NestedStackChangeSets';
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an Fn::Sub placeholder, filled with the stack names
        expect(resource, s.Sid).toContain(nested ? ':stack/${Names}-*/*' : ':stack/${Names}/*');
        expect(resource, s.Sid).toContain('"Ref":"StackNames"');
        if (nested)
          expect(
            actionsOf(s).every((a) => /ChangeSet$/.test(a)),
            s.Sid,
          ).toBe(true);
      }
      expect(JSON.stringify(s.Condition), s.Sid).toContain('aws:RequestedRegion');
    }
  });

  it('S3 actions apply to the promote-bot/ prefix of the template bucket, where the code uploads', () => {
    const src = sourceFiles(SRC)
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(src, 'the upload key starts with promote-bot/').toContain('`promote-bot/');
    const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    expect(s3.length).toBeGreaterThan(0);
    for (const s of s3) expect(JSON.stringify(s.Resource), s.Sid).toContain('/promote-bot/*');
  });

  it('the template bucket expires what the bot uploads under promote-bot/', () => {
    const bucket = Object.values(stageRole.Resources).find((r) => r.Type === 'AWS::S3::Bucket')!;
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Array<Record<string, Json>> }).Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Status: 'Enabled', Prefix: 'promote-bot/', ExpirationInDays: expect.anything() }),
      ]),
    );
  });

  it('the trust policy names the bot role, requires the ExternalId and allows SourceIdentity', () => {
    const assume = stageTrust.find((s) => actionsOf(s).includes('sts:AssumeRole'))!;
    expect(assume.Principal).toEqual({ AWS: { Ref: 'BotRoleArn' } });
    expect(assume.Condition?.StringEquals?.['sts:ExternalId']).toEqual({ Ref: 'ExternalId' });
    expect(allows(stageTrust).has('sts:SetSourceIdentity')).toBe(true);
    expect(
      stageTrust.every((s) => JSON.stringify(s.Principal) === JSON.stringify({ AWS: { Ref: 'BotRoleArn' } })),
    ).toBe(true);
  });
});
