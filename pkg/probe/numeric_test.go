package probe

import "testing"

func TestParseNumericIPv4(t *testing.T) {
	tests := map[string]struct {
		host          string
		want          string
		numeric, good bool
	}{
		"four decimal parts":              {host: "1.2.3.4", want: "1.2.3.4", numeric: true, good: true},
		"one decimal part fills 32 bits":  {host: "16909060", want: "1.2.3.4", numeric: true, good: true},
		"two parts fill 8 and 24 bits":    {host: "1.131844", want: "1.2.3.4", numeric: true, good: true},
		"octal parts":                     {host: "01.02.03.04", want: "1.2.3.4", numeric: true, good: true},
		"mixed bases":                     {host: "0x1.2.0003.4", want: "1.2.3.4", numeric: true, good: true},
		"an octal part with 8 is invalid": {host: "08.1.1.1", numeric: true},
		"a part over 255 is invalid":      {host: "256.1.1.1", numeric: true},
		"a last part too large is invalid": {
			host: "1.2.65536", numeric: true,
		},
		"five parts are a name":   {host: "1.2.3.4.5"},
		"letters make a name":     {host: "s3.example.com"},
		"an empty part is a name": {host: "1..2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, numeric, good := parseNumericIPv4(tc.host)
			if numeric != tc.numeric || good != tc.good || (good && a.String() != tc.want) {
				t.Errorf("got %v numeric=%v valid=%v, want %s numeric=%v valid=%v", a, numeric, good, tc.want, tc.numeric, tc.good)
			}
		})
	}
}
