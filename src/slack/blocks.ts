import type { types } from '@slack/bolt';

/** Block Kit block types, re-exported from @slack/bolt (which bundles @slack/types). */
export type KnownBlock = types.KnownBlock;
export type Block = types.Block;
