// Starts `ferrota lsp` for YAML files: everything else (diagnostics, completion, hover,
// definitions, quick fixes) comes from the server.
const { workspace, window } = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = workspace.getConfiguration('ferrota').get('path') || 'ferrota';
  client = new LanguageClient(
    'ferrota',
    'ferrota',
    { command, args: ['lsp'] },
    {
      documentSelector: [{ scheme: 'file', language: 'yaml' }],
      // A secrets.yaml or package changed outside the editor: the server re-checks.
      synchronize: { fileEvents: workspace.createFileSystemWatcher('**/*.{yaml,yml}') },
    },
  );
  client.start().catch((e) => {
    window.showErrorMessage(`ferrota: could not start \`${command} lsp\` (${e.message}). Install ferrota, or set "ferrota.path".`);
  });
  context.subscriptions.push(client);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
