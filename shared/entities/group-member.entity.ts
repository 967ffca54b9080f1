import { EntitySchema } from 'typeorm';

/** One user's membership of a named group within a package: the contract's `group_member`. */
export interface GroupMemberRow {
  package: string;
  groupName: string;
  user: string;
  createdAt: Date;
}

export const GroupMemberEntity = new EntitySchema<GroupMemberRow>({
  name: 'GroupMember',
  tableName: 'group_member',
  columns: {
    package: { type: 'varchar', length: 128, primary: true },
    groupName: { name: 'group_name', type: 'varchar', length: 128, primary: true },
    user: { type: 'varchar', length: 128, primary: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
  },
});
