// Prometheus metrics (prom-client), served at GET /metrics. One registry per process, built by the
// composition root and passed to the workflows as `deps.metrics`; src/aws and src/slack report their calls
// through callbacks (AwsClientOptions.onCall, SlackPortOptions.onCall) that src/main.ts points here.
// Names and units follow the Prometheus naming guide (prometheus.io/docs/practices/naming): seconds,
// `_total` for counters, a `promote_bot_` prefix.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BudgetObserver } from './budgets.js';

/** Seconds, from 0.1 s to about 7 h: approvals take minutes to hours, executions seconds to an hour. */
const LONG_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800];
/** Seconds for one API call: 5 ms to 30 s. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Metrics {
  readonly registry: Registry;
  /** Promotions that ended, by final state (succeeded, failed, rolled_back, rejected, expired, cancelled…) */
  readonly promotions: Counter<'outcome'>;
  /** Rollbacks that ended, by final state */
  readonly rollbacks: Counter<'outcome'>;
  /** From the summary being ready for review to the last approval needed */
  readonly approvalWait: Histogram<'kind'>;
  /** From the execution's start to its end, by final state */
  readonly executionDuration: Histogram<'kind' | 'outcome'>;
  /** Building the change set until CloudFormation has it ready (templates read and uploaded included) */
  readonly changeSetCreation: Histogram<'kind'>;
  /** Each Slack Web API attempt, by method and result (ok, rate_limited, Slack's error code, a network code) */
  readonly slackCalls: Counter<'method' | 'result'>;
  readonly slackCallDuration: Histogram<'method'>;
  /** Each AWS API attempt, by service, operation and result (ok, throttled, access_denied…) */
  readonly awsCalls: Counter<'service' | 'operation' | 'result'>;
  readonly awsCallDuration: Histogram<'service' | 'operation'>;
  /** Direct messages to reviewers, by result: sent, failed, opted_out (the person turned them off) */
  readonly reviewerDms: Counter<'result'>;
  /** Calls a request budget let through (src/budgets.ts), by budget ('cloudformation:<account>/<region>', 'slack:chat.update'…) */
  readonly budgetCalls: Counter<'budget'>;
  /** How long calls waited for their budget, by budget */
  readonly budgetWait: Histogram<'budget'>;
  /** "Slow down" answers (AWS Throttling, Slack 429) that halved a budget's rate, by budget */
  readonly budgetThrottles: Counter<'budget'>;
  /** A budget's current rate as a fraction of its configured rate (1 = full; lower after throttling) */
  readonly budgetRateFactor: Gauge<'budget'>;
  /** Operations this replica is executing or following now */
  readonly operationsInFlight: Gauge;
  /** Operation leases this replica holds */
  readonly leasesHeld: Gauge;
  /** Where the two gauges read from; set once the workflows exist (src/main.ts). */
  watch(sources: { operationsInFlight: () => number; leasesHeld: () => number }): void;
}

/**
 * The sampling interval of the event-loop delay metrics (prom-client's `eventLoopMonitoringPrecision`, its default):
 * `nodejs_eventloop_lag_*_seconds` are the intervals between the ticks of a timer of this period
 * (nodejs.org/api/perf_hooks.html#perf_hooksmonitoreventloopdelayoptions), so an idle process reads about 10 ms
 * and the delay is what lies beyond it (github.com/open-telemetry/opentelemetry-js-contrib/issues/2794).
 */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** A fresh registry with the default process metrics (CPU, memory, event loop lag, GC) and the bot's own. */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
  const registers = [registry];
  let sources = { operationsInFlight: () => 0, leasesHeld: () => 0 };

  const metrics: Metrics = {
    registry,
    promotions: new Counter({
      name: 'promote_bot_promotions_total',
      help: 'Promotions that ended, by outcome (final state)',
      labelNames: ['outcome'],
      registers,
    }),
    rollbacks: new Counter({
      name: 'promote_bot_rollbacks_total',
      help: 'Rollbacks that ended, by outcome (final state)',
      labelNames: ['outcome'],
      registers,
    }),
    approvalWait: new Histogram({
      name: 'promote_bot_approval_wait_seconds',
      help: 'From the plan being ready for review to the last approval needed',
      labelNames: ['kind'],
      buckets: LONG_BUCKETS,
      registers,
    }),
    executionDuration: new Histogram({
      name: 'promote_bot_execution_duration_seconds',
      help: 'From the start of an execution to its end, by outcome',
      labelNames: ['kind', 'outcome'],
      buckets: LONG_BUCKETS,
      registers,
    }),
    changeSetCreation: new Histogram({
      name: 'promote_bot_change_set_creation_seconds',
      help: 'Building a change set until CloudFormation has it ready (template read and upload included)',
      labelNames: ['kind'],
      buckets: LONG_BUCKETS,
      registers,
    }),
    reviewerDms: new Counter({
      name: 'promote_bot_reviewer_dms_total',
      help: 'Direct messages to reviewers whose approval is needed, by result (sent, failed, opted_out)',
      labelNames: ['result'],
      registers,
    }),
    slackCalls: new Counter({
      name: 'promote_bot_slack_api_calls_total',
      help: 'Slack Web API attempts by method and result (ok, rate_limited, or the error code)',
      labelNames: ['method', 'result'],
      registers,
    }),
    slackCallDuration: new Histogram({
      name: 'promote_bot_slack_api_call_duration_seconds',
      help: 'Slack Web API attempt duration by method',
      labelNames: ['method'],
      buckets: CALL_BUCKETS,
      registers,
    }),
    awsCalls: new Counter({
      name: 'promote_bot_aws_api_calls_total',
      help: 'AWS API attempts by service, operation and result (ok, throttled, or the fault reason)',
      labelNames: ['service', 'operation', 'result'],
      registers,
    }),
    awsCallDuration: new Histogram({
      name: 'promote_bot_aws_api_call_duration_seconds',
      help: 'AWS API attempt duration by service and operation',
      labelNames: ['service', 'operation'],
      buckets: CALL_BUCKETS,
      registers,
    }),
    budgetCalls: new Counter({
      name: 'promote_bot_budget_calls_total',
      help: 'Calls a request budget let through, by budget',
      labelNames: ['budget'],
      registers,
    }),
    budgetWait: new Histogram({
      name: 'promote_bot_budget_wait_seconds',
      help: 'Time calls waited for their request budget, by budget',
      labelNames: ['budget'],
      buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    budgetThrottles: new Counter({
      name: 'promote_bot_budget_throttles_total',
      help: 'Slow-down answers (AWS Throttling, Slack HTTP 429) that halved a budget rate, by budget',
      labelNames: ['budget'],
      registers,
    }),
    budgetRateFactor: new Gauge({
      name: 'promote_bot_budget_rate_factor',
      help: 'Current rate of a request budget as a fraction of its configured rate (1 = full)',
      labelNames: ['budget'],
      registers,
    }),
    operationsInFlight: new Gauge({
      name: 'promote_bot_operations_in_flight',
      help: 'Operations this replica is executing or following now',
      registers,
      collect() {
        this.set(sources.operationsInFlight());
      },
    }),
    leasesHeld: new Gauge({
      name: 'promote_bot_leases_held',
      help: 'Operation leases this replica holds',
      registers,
      collect() {
        this.set(sources.leasesHeld());
      },
    }),
    watch(s) {
      sources = s;
    },
  };
  return metrics;
}

/** Where the request budgets (src/budgets.ts) report grants, waits and throttles. */
export function budgetObserver(metrics: Metrics): BudgetObserver {
  return {
    granted(budget, waitedMs) {
      metrics.budgetCalls.inc({ budget });
      metrics.budgetWait.observe({ budget }, waitedMs / 1000);
    },
    throttled(budget) {
      metrics.budgetThrottles.inc({ budget });
    },
    factor(budget, factor) {
      metrics.budgetRateFactor.set({ budget }, factor);
    },
  };
}
