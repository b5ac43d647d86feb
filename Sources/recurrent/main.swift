// The `recurrent` command-line tool; its commands live in the RecurrentTool library (testable).
import RecurrentTool

RecurrentCommand.main()
