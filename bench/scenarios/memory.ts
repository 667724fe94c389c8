export const benchMemory = async (..._a: unknown[]): Promise<never> => {
  throw new Error('todo');
};
