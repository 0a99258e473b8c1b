package cluster

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateCalico checks spec.cni.calico: only with the calico plugin, a
// backend kbs can install, an MTU an Ethernet link can carry.
func validateCalico(p *field.Path, cni CNI) field.ErrorList {
	var errs field.ErrorList
	cal := cni.Calico
	if cal == nil {
		return nil
	}
	if cni.Plugin != CNICalico {
		return append(errs, field.Forbidden(p, "only with spec.cni.plugin: calico"))
	}
	if cal.Backend != CalicoBackendVXLAN {
		// IP-in-IP and BGP need a BGP daemon (bird) kbs cannot test here.
		errs = append(errs, field.NotSupported(p.Child("backend"), cal.Backend, []string{CalicoBackendVXLAN}))
	}
	if cal.MTU != 0 && (cal.MTU < 1280 || cal.MTU > 9000) {
		errs = append(errs, field.Invalid(p.Child("mtu"), cal.MTU, "must be 0 (derived from each node's interface) or between 1280 and 9000"))
	}
	return errs
}
