import type { CommandBody } from '../context.js';

export const schemaCommand: CommandBody = {
  description: 'Print the JSON Schema of mlserve.config.yaml, for editor completion and validation (yaml-language-server, VS Code).',
  examples: [{ command: 'mlserve schema > mlserve.schema.json', description: 'save it for your editor' }],
  async run() {
    const { configJsonSchema } = await import('../../core/config/schema.js');
    const schema = configJsonSchema();
    // The schema is the document itself, with or without --json.
    return { data: { schema }, text: JSON.stringify(schema, null, 2) };
  },
};
