// The `recurrent` command-line tool; its commands live in the RecurrentTool library (testable).
import Foundation
import RecurrentTool

// A file-size limit (RLIMIT_FSIZE) makes a write fail with EFBIG, reported with the file's
// name, instead of killing the process with SIGXFSZ.
signal(SIGXFSZ, SIG_IGN)
RecurrentCommand.runCommandLine()
