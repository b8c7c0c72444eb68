// The pure views: Promotion/Plan in, Slack text and blocks out.
export { blocksTextLength, type KnownBlock, LIMITS, type View } from './blocks.js';
export { formatChangeEntry, formatReason, IMPACT_MARK, renderChangeList, splitMessage } from './change-list.js';
export { formatDuration, type ProgressInput, renderFailedResource, renderFinal, renderProgress } from './progress.js';
export { BLOCK_ID, renderPromotionMessage, type SummaryInput } from './summary.js';
