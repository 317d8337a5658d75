/** Every workflow the fairline worker registers. */
export { pipelineRun, progressQuery } from './pipeline-run';
