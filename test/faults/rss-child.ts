// Runs one dml command like bin/dml and, at exit, writes the process's peak resident set size to
// stderr, so that the fault suite can bound the memory a hostile input costs (worker threads are
// part of the process and count).
import { main } from '../../src/cli/main.js';
import { runToExit } from '../../src/cli/exit.js';

process.on('exit', () => {
  process.stderr.write(`\nDML_MAX_RSS_KB ${process.resourceUsage().maxRSS}\n`);
});
// Without arguments (node --test runs every file under dist/test/) there is nothing to run.
if (process.argv.length > 2) runToExit(process.argv[2]!, main(process.argv.slice(2)));
