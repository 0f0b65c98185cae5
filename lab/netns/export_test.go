package netns

// CommandsStarted reads how many processes the package's commands started.
func CommandsStarted() int64 { return commandsStarted.Load() }
