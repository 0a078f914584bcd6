/** The request the pre-flight sends, written by `init` beside the config (or your own). */
export const SAMPLE_FILE = 'mlserve.sample.json';
