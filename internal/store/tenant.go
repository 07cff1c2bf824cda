package store

import (
	"fmt"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// RowTenant is the tenant record i of a batch for batchTenant is stored under: its own
// tenant_id, else the batch's, else record.DefaultTenant (as the mapping would have chosen). A
// record naming a tenant other than the batch's is refused with an error wrapping
// ErrInvalidRecord: a transaction holds one tenant's records. Every backend resolves rows with
// it, so they agree on where a record lives.
func RowTenant(batchTenant string, i int, r *record.Record) (string, error) {
	switch {
	case r.TenantID == "" && batchTenant != "":
		return batchTenant, nil
	case r.TenantID == "":
		return record.DefaultTenant, nil
	case batchTenant != "" && r.TenantID != batchTenant:
		return "", fmt.Errorf("insert: record %d (id %q): %w: tenant_id %q differs from the batch's tenant %q", i, r.ID, ErrInvalidRecord, r.TenantID, batchTenant)
	}
	return r.TenantID, nil
}
