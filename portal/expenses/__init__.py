"""Notes de frais: employees of the firm's dossiers file expense notes, approvers decide, accounting follows."""
