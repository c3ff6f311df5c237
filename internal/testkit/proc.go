package testkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcStatusKiB reads a field such as VmHWM (peak RSS) or VmRSS from /proc/<pid>/status.
func ProcStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
		}
		return kib, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}
