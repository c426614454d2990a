// Starts `rocky lsp` for SQL and TOML files of a rocky project (a folder with rocky.toml).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("rocky").get("command");
  client = new LanguageClient(
    "rocky",
    "rocky",
    { command, args },
    {
      documentSelector: [
        { scheme: "file", language: "sql", pattern: "**/models/**/*.sql" },
        { scheme: "file", pattern: "**/models/**/*.toml" },
      ],
      synchronize: {
        fileEvents: vscode.workspace.createFileSystemWatcher(
          "**/{models,sources}/**/*.{sql,toml}"),
      },
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
