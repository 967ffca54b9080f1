import { EntitySchema } from 'typeorm';

/** A package's VAPID key pair (RFC 8292). Old keys stay for the subscriptions made with them. */
export interface VapidKeyRow {
  id: number;
  package: string;
  /** base64url of the 65-byte uncompressed P-256 point. */
  publicKey: string;
  /** base64url of the 32-byte private scalar. */
  privateKey: string;
  /**
   * The package name while this is the package's current key, else null. A unique column
   * allows many NULLs, so two processes racing to create a first key cannot both win.
   */
  currentFor: string | null;
  createdAt: Date;
}

export const VapidKeyEntity = new EntitySchema<VapidKeyRow>({
  name: 'VapidKey',
  tableName: 'vapid_key',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment' },
    package: { type: 'varchar', length: 128 },
    publicKey: { name: 'public_key', type: 'varchar', length: 128 },
    privateKey: { name: 'private_key', type: 'varchar', length: 64 },
    currentFor: { name: 'current_for', type: 'varchar', length: 128, nullable: true, unique: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
  },
});
