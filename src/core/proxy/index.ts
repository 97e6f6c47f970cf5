export { resolveTargets, type ProxyNode, type TargetSelection } from './targets.js';
export { NodeSet, nodesError, failedOutcomes, outcomeJson, asSipctlError, type NodeOutcome, type NodeSetOptions } from './node-set.js';
export { ops, type OpResult, type OpView, type OpContext } from './ops.js';
export { prepareLine, tokenizeLine, LINE_COMMANDS, LINE_HELP, type LineContext, type PreparedLine } from './line-commands.js';
export { makeFilter } from './filter.js';
export { formatDuration } from './status.js';
