/**
 * Which account each enrolled credential belongs to, and with which modality: kept by every
 * association node for every partition (it reads the whole enrollment stream anyway). Metadata
 * only, never a template. Fusion needs it across partitions: a person's finger and face are two
 * credentials that may live in different partitions, and an account is judged on the modalities it
 * is enrolled with.
 */
import { Modality } from '../../proto/gen/biopay/v1/biometrics.js';

export interface CredentialEntry {
  readonly accountId: string;
  readonly modality: Modality;
  readonly hint: string;
}

export class CredentialDirectory {
  private readonly credentials = new Map<string, CredentialEntry>();
  /** Account -> modality -> credentials of it. */
  private readonly accounts = new Map<string, Map<Modality, number>>();

  get size(): number {
    return this.credentials.size;
  }

  get(credentialId: string): CredentialEntry | undefined {
    return this.credentials.get(credentialId);
  }

  set(credentialId: string, entry: CredentialEntry): void {
    this.delete(credentialId);
    this.credentials.set(credentialId, entry);
    const modalities = this.accounts.get(entry.accountId) ?? new Map<Modality, number>();
    modalities.set(entry.modality, (modalities.get(entry.modality) ?? 0) + 1);
    this.accounts.set(entry.accountId, modalities);
  }

  delete(credentialId: string): void {
    const entry = this.credentials.get(credentialId);
    if (!entry) return;
    this.credentials.delete(credentialId);
    const modalities = this.accounts.get(entry.accountId)!;
    const left = modalities.get(entry.modality)! - 1;
    if (left > 0) modalities.set(entry.modality, left);
    else modalities.delete(entry.modality);
    if (modalities.size === 0) this.accounts.delete(entry.accountId);
  }

  /** How many of `modalities` the account has at least one credential of. */
  enrolledModalities(accountId: string, modalities: readonly Modality[]): number {
    const enrolled = this.accounts.get(accountId);
    return enrolled ? modalities.filter((modality) => enrolled.has(modality)).length : 0;
  }
}
