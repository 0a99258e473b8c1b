package cluster

import (
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// evictionSignals are the kubelet's hard eviction signals on Linux.
var evictionSignals = []string{"memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
	"imagefs.inodesFree", "containerfs.available", "containerfs.inodesFree", "pid.available"}

// imageGCLowDefault is the kubelet's imageGCLowThresholdPercent, which the
// high threshold must stay above.
const imageGCLowDefault = 80

func validateKubelet(p *field.Path, k Kubelet) field.ErrorList {
	var errs field.ErrorList
	signals := make([]string, 0, len(k.EvictionHard))
	for s := range k.EvictionHard {
		signals = append(signals, s)
	}
	slices.Sort(signals)
	for _, s := range signals {
		sp := p.Child("evictionHard").Key(s)
		if !slices.Contains(evictionSignals, s) {
			errs = append(errs, field.NotSupported(sp, s, evictionSignals))
			continue
		}
		if !evictionThreshold(k.EvictionHard[s]) {
			errs = append(errs, field.Invalid(sp, k.EvictionHard[s], "must be a percentage such as 10% or a quantity such as 100Mi"))
		}
	}
	if n := k.ImageGCHighThresholdPercent; n != nil && (*n <= imageGCLowDefault || *n > 100) {
		errs = append(errs, field.Invalid(p.Child("imageGCHighThresholdPercent"), *n, "must be above the kubelet's low threshold (80) and at most 100 (never)"))
	}
	return errs
}

// evictionThreshold is a kubelet threshold value: N% (0–100) or a quantity.
func evictionThreshold(v string) bool {
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		return err == nil && f >= 0 && f <= 100
	}
	q, err := resource.ParseQuantity(v)
	return err == nil && q.Sign() >= 0
}
